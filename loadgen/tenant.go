package loadgen

import (
	"encoding/json"
	"strconv"
	"strings"
)

// tenant is the directory the traffic is drawn from, with every fragment
// of JSON that does not change between a user's sign-ins rendered once.
type tenant struct {
	id      guid
	users   []user
	offices []office
	apps    []app
	// appsByRefresh lists app indexes as often as each app refreshes
	// tokens silently, so a uniform pick is a weighted one.
	appsByRefresh []int16
	sps           []servicePrincipal
	policies      policySet
	places        placeFragments
}

type user struct {
	id          guid
	upn         string
	displayName string
	office      int32
	client      int16
	// ident: "userDisplayName":…,"userPrincipalName":…,"userId":…
	ident []byte
	// graphTail and hubsTail: the user type, cased as each source cases it.
	graphTail, hubsTail []byte
	device              []byte // deviceDetail and userAgent
	homeIP              string
	identity            []byte // the envelope's "identity" member
}

type office struct {
	ip    string
	place int
	// network: the networkLocationDetails of a sign-in from the office.
	network []byte
}

type app struct {
	ident     []byte // "appId":…,"appDisplayName":…
	resource  []byte // "resourceDisplayName":…,"resourceId":…,"resourceServicePrincipalId":…
	clientApp []byte // "clientAppUsed":…
}

type servicePrincipal struct {
	name  string
	ip    string
	ident []byte // appId, appDisplayName, ipAddress
	tail  []byte // servicePrincipal* members, credential type
	place int
}

// placeFragments holds the rendered "location" of every place, offices
// first, then travel, then attacker places.
type placeFragments struct {
	location [][]byte // "location":{…}
	country  []string
	asn      []string
}

const (
	domain      = "contoso.example"
	guestDomain = "fabrikam.example"
)

func travelPlace(i int) int   { return len(officePlaces) + i%len(travelPlaces) }
func attackerPlace(i int) int { return len(officePlaces) + len(travelPlaces) + i%len(attackerPlaces) }

// quote renders a JSON string; only used while building the tenant.
func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func member(name, value string) string { return `"` + name + `":` + quote(value) }

func newTenant(cfg Config) *tenant {
	r := newRNG(cfg.Seed, 1)
	t := &tenant{id: r.newGUID()}
	t.places = renderPlaces()
	t.offices = makeOffices(cfg.Users)
	t.users = makeUsers(r, cfg.Users, len(t.offices))
	t.apps, t.appsByRefresh = makeApps(r, cfg.Apps)
	t.sps = makeServicePrincipals(r)
	t.policies = renderPolicies(r)
	return t
}

func renderPlaces() placeFragments {
	var pf placeFragments
	all := append(append(append([]place(nil), officePlaces...), travelPlaces...), attackerPlaces...)
	for _, p := range all {
		loc := `"location":{` + member("city", p.city) + "," + member("state", p.state) + "," + member("countryOrRegion", p.country) +
			`,"geoCoordinates":{"latitude":` + strconv.FormatFloat(p.lat, 'f', -1, 64) + `,"longitude":` + strconv.FormatFloat(p.lon, 'f', -1, 64) + `}}`
		pf.location = append(pf.location, []byte(loc))
		pf.country = append(pf.country, p.country)
		pf.asn = append(pf.asn, strconv.Itoa(p.asn))
	}
	return pf
}

// makeOffices gives every twenty users an egress address (people behind
// one NAT share it), from two documentation ranges; 198.51.100.0/24 is
// left to attackers so their addresses never mix with the tenant's.
func makeOffices(users int) []office {
	n := min(users/20+1, 508)
	offices := make([]office, n)
	for i := range offices {
		prefix, host := "192.0.2.", i+1
		if i >= 254 {
			prefix, host = "203.0.113.", i-253
		}
		p := i % len(officePlaces)
		offices[i] = office{
			ip:      prefix + strconv.Itoa(host),
			place:   p,
			network: []byte(`"networkLocationDetails":[{"networkType":"trustedNamedLocation","networkNames":[` + quote("Contoso "+officePlaces[p].city+" office") + `]}]`),
		}
	}
	return offices
}

func makeUsers(r *rng, n, offices int) []user {
	users := make([]user, n)
	seen := make(map[string]int, n)
	for i := range users {
		first := firstNames[r.intn(len(firstNames))]
		last := lastNames[r.intn(len(lastNames))]
		local := strings.ToLower(first + "." + last)
		if k := seen[local]; k > 0 {
			seen[local] = k + 1
			local += strconv.Itoa(k + 1)
		} else {
			seen[local] = 1
		}
		u := &users[i]
		u.id = r.newGUID()
		u.displayName = first + " " + last
		u.upn = local + "@" + domain
		userType, hubsType := "member", "Member"
		if r.chance(0.04) {
			// Guests sign in with their home address; the directory knows
			// them by the #EXT# form.
			u.upn = local + "_" + strings.ReplaceAll(guestDomain, ".", "_") + "#EXT#@" + domain
			userType, hubsType = "guest", "Guest"
		}
		u.office = int32(r.intn(offices))
		u.client = int16(r.intn(len(clients)))
		u.homeIP = "2001:db8:" + strconv.FormatInt(int64(0x100+i>>16), 16) + ":" + strconv.FormatInt(int64(i&0xffff), 16) + "::" + strconv.FormatInt(int64(1+r.intn(0xfff)), 16)
		u.ident = []byte(member("userDisplayName", u.displayName) + "," + member("userPrincipalName", u.upn) + `,"userId":"` + u.id.String() + `"`)
		u.identity = []byte(member("identity", u.displayName))
		c := clients[u.client]
		device := r.newGUID()
		deviceName := "LAPTOP-" + strings.ToUpper(device.String()[:6])
		if c.mobile {
			deviceName = first + "'s phone"
		}
		ident := func(userType string) []byte {
			return []byte(`,"userType":"` + userType + `",` + member("signInIdentifier", u.upn) + `,"signInIdentifierType":"userPrincipalName"`)
		}
		u.graphTail, u.hubsTail = ident(userType), ident(hubsType)
		u.device = []byte(`,"deviceDetail":{"deviceId":"` + device.String() + `",` + member("displayName", deviceName) + "," + member("operatingSystem", c.os) + "," +
			member("browser", c.browser) + `,"isCompliant":` + strconv.FormatBool(c.managed) + `,"isManaged":` + strconv.FormatBool(c.managed) + "," +
			member("trustType", c.trust) + `},"userAgent":` + quote(c.ua))
	}
	return users
}

func makeApps(r *rng, n int) ([]app, []int16) {
	apps := make([]app, n)
	var byRefresh []int16
	for i := range apps {
		var spec appSpec
		if i < len(firstPartyApps) {
			spec = firstPartyApps[i]
		} else {
			id := r.newGUID().String()
			name := "Contoso " + lobAppNames[(i-len(firstPartyApps))%len(lobAppNames)]
			if k := (i - len(firstPartyApps)) / len(lobAppNames); k > 0 {
				name += " " + strconv.Itoa(k+1)
			}
			spec = appSpec{id, name, id, name, "Browser", 1}
		}
		apps[i] = app{
			ident:     []byte(`"appId":"` + spec.id + `",` + member("appDisplayName", spec.name)),
			resource:  []byte(member("resourceDisplayName", spec.resName) + `,"resourceId":"` + spec.resID + `"`),
			clientApp: []byte(member("clientAppUsed", spec.clientApp)),
		}
		for range spec.nonInteractiveWt {
			byRefresh = append(byRefresh, int16(i))
		}
	}
	return apps, byRefresh
}

func makeServicePrincipals(r *rng) []servicePrincipal {
	sps := make([]servicePrincipal, len(servicePrincipalNames))
	for i, name := range servicePrincipalNames {
		appID, spID, keyID := r.newGUID(), r.newGUID(), r.newGUID()
		cred, thumb := "clientSecret", ""
		if i%3 == 0 {
			cred, thumb = "certificate", strings.ToUpper(strings.ReplaceAll(r.newGUID().String(), "-", "")[:32]+"0A1B2C3D")
		}
		ip := "2001:db8:a2e:" + strconv.FormatInt(int64(i+1), 16) + "::" + strconv.FormatInt(int64(1+r.intn(0xfff)), 16)
		sps[i] = servicePrincipal{
			name:  name,
			ip:    ip,
			ident: []byte(`"appId":"` + appID.String() + `",` + member("appDisplayName", name) + `,"ipAddress":"` + ip + `"`),
			tail: []byte(`"servicePrincipalId":"` + spID.String() + `",` + member("servicePrincipalName", name) +
				`,"servicePrincipalCredentialKeyId":"` + keyID.String() + `","servicePrincipalCredentialThumbprint":"` + thumb +
				`","clientCredentialType":"` + cred + `","federatedCredentialId":""`),
			place: i % len(officePlaces),
		}
	}
	return sps
}
