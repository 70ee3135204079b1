package rules

import (
	"fmt"
	"strings"

	"github.com/signindiag/signindiag/schemas"
)

// Helpers that phrase sign-in facts for an admin reading a finding.

func who(si *schemas.SignIn) string {
	switch {
	case si.UserPrincipalName != "":
		return si.UserPrincipalName
	case si.UserDisplayName != "":
		return si.UserDisplayName
	case si.ServicePrincipalName != "":
		return "service principal " + si.ServicePrincipalName
	case si.UserID != "":
		return "user " + si.UserID
	}
	return "service principal " + si.ServicePrincipalID
}

func app(si *schemas.SignIn) string {
	switch {
	case si.AppDisplayName != "":
		return si.AppDisplayName
	case si.AppID != "":
		return "application " + si.AppID
	}
	return "an application"
}

func from(si *schemas.SignIn) string {
	var parts []string
	if si.IPAddress != "" {
		parts = append(parts, "IP "+si.IPAddress)
	}
	loc := strings.Trim(strings.Join([]string{si.Location.City, si.Location.CountryOrRegion}, ", "), ", ")
	if loc != "" {
		parts = append(parts, loc)
	}
	if si.ClientAppUsed != "" {
		parts = append(parts, "client "+si.ClientAppUsed)
	}
	if os := si.DeviceDetail.OperatingSystem; os != "" {
		parts = append(parts, os)
	}
	if len(parts) == 0 {
		return ""
	}
	return " from " + strings.Join(parts, ", ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// failingPolicies lists the applied Conditional Access policies that failed
// the sign-in, with their grant controls.
func failingPolicies(si *schemas.SignIn) (names []string, described []string) {
	for _, p := range si.AppliedConditionalAccessPolicies {
		if !strings.EqualFold(p.Result, "failure") {
			continue
		}
		name := p.DisplayName
		if name == "" {
			name = p.ID
		}
		names = append(names, fmt.Sprintf("%q", name))
		d := fmt.Sprintf("%q (result: failure", name)
		if len(p.EnforcedGrantControls) > 0 {
			d += ", grant controls: " + strings.Join(p.EnforcedGrantControls, ", ")
		}
		described = append(described, d+")")
	}
	return names, described
}

// legacyClients are the clientAppUsed values of basic-auth protocols, which
// cannot do MFA (domain spec §2 #15).
var legacyClients = map[string]bool{
	"exchange activesync": true, "imap4": true, "pop3": true, "authenticated smtp": true,
	"mapi over http": true, "autodiscover": true, "exchange online powershell": true,
	"exchange web services": true, "offline address book": true,
	"outlook anywhere (rpc over http)": true, "outlook service": true,
	"reporting web services": true, "other clients": true,
}

func isLegacyClient(si *schemas.SignIn) bool {
	return legacyClients[strings.ToLower(si.ClientAppUsed)]
}
