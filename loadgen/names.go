package loadgen

// The static material a tenant is drawn from. Names are common given and
// family names; addresses come from the documentation ranges only.

var firstNames = []string{
	"Ana", "Ben", "Chloe", "David", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas",
	"Kofi", "Lena", "Marco", "Nadia", "Oscar", "Priya", "Quentin", "Rosa", "Samir", "Tara",
	"Umar", "Vera", "Wei", "Ximena", "Yusuf", "Zoe", "Amelia", "Bruno", "Carla", "Diego",
	"Emma", "Felix", "Gabriel", "Hanna", "Ivan", "Julia", "Karim", "Laura", "Mateo", "Nora",
	"Olga", "Pedro", "Rania", "Sofia", "Tomas", "Ulla", "Victor", "Wanda", "Yara", "Zain",
}

var lastNames = []string{
	"Ruiz", "Okafor", "Martin", "Schmidt", "Rossi", "Haddad", "Kim", "Tanaka", "Silva", "Berg",
	"Mensah", "Novak", "Dubois", "Ivanova", "Larsen", "Patel", "Moreau", "Garcia", "Nasser", "Singh",
	"Khan", "Petrova", "Chen", "Lopez", "Demir", "Walsh", "Fischer", "Costa", "Jensen", "Kowalski",
	"Nguyen", "Brown", "Murphy", "Bauer", "Romano", "Lindqvist", "Horvat", "Meyer", "Santos", "Ali",
	"Wagner", "Fernandes", "Olsen", "Richter", "Bianchi", "Sato", "Yilmaz", "Kaur", "Evans", "Weber",
}

// place is a geo-IP location as Entra reports it.
type place struct {
	city, state, country string
	lat, lon             float64
	asn                  int
}

// officePlaces are where the tenant's people work.
var officePlaces = []place{
	{"Lyon", "Auvergne-Rhone-Alpes", "FR", 45.7578, 4.832, 3215},
	{"Paris", "Paris", "FR", 48.8566, 2.3522, 3215},
	{"London", "London", "GB", 51.5072, -0.1276, 2856},
	{"Berlin", "Berlin", "DE", 52.52, 13.405, 3320},
	{"Munich", "Bayern", "DE", 48.1351, 11.582, 3320},
	{"Amsterdam", "Noord-Holland", "NL", 52.3676, 4.9041, 1136},
	{"Madrid", "Madrid", "ES", 40.4168, -3.7038, 3352},
	{"Milan", "Lombardia", "IT", 45.4642, 9.19, 3269},
	{"Stockholm", "Stockholms Lan", "SE", 59.3293, 18.0686, 3301},
	{"Dublin", "Dublin", "IE", 53.3498, -6.2603, 5466},
	{"Warsaw", "Mazowieckie", "PL", 52.2297, 21.0122, 5617},
	{"New York", "New York", "US", 40.7128, -74.006, 7922},
	{"Seattle", "Washington", "US", 47.6062, -122.3321, 7922},
	{"Toronto", "Ontario", "CA", 43.6532, -79.3832, 577},
}

// travelPlaces are where people sign in from on a trip.
var travelPlaces = []place{
	{"Lisbon", "Lisboa", "PT", 38.7223, -9.1393, 3243},
	{"Singapore", "Singapore", "SG", 1.3521, 103.8198, 7473},
	{"Tokyo", "Tokyo", "JP", 35.6762, 139.6503, 2516},
	{"Dubai", "Dubai", "AE", 25.2048, 55.2708, 5384},
	{"Sao Paulo", "Sao Paulo", "BR", -23.5558, -46.6396, 28573},
}

// attackerPlaces are where sprays and fatigue attacks come from.
var attackerPlaces = []place{
	{"Lagos", "Lagos", "NG", 6.5244, 3.3792, 37148},
	{"Bucharest", "Bucuresti", "RO", 44.4268, 26.1025, 9050},
	{"Ho Chi Minh City", "Ho Chi Minh", "VN", 10.8231, 106.6297, 7552},
	{"Sao Paulo", "Sao Paulo", "BR", -23.5558, -46.6396, 28573},
}

// client is a device kind with the user agent its apps send.
type client struct {
	os, browser, ua, trust string
	managed                bool
	mobile                 bool
}

var clients = []client{
	{"Windows10", "Edge 122.0.2365", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36 Edg/122.0.2365.66", "Azure AD joined", true, false},
	{"Windows10", "Chrome 122.0.0", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36", "Hybrid Azure AD joined", true, false},
	{"Windows10", "Rich Client 5.2.0.0", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; WebView/3.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/70.0.3538.102 Safari/537.36 Edge/18.22631", "Azure AD joined", true, false},
	{"MacOs", "Safari 17.3", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Safari/605.1.15", "Azure AD registered", false, false},
	{"Ios", "Mobile Safari 17.3", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Outlook-iOS/723.4027091.prod.iphone (4.2407.0)", "Azure AD registered", true, true},
	{"Android", "Chrome Mobile 122.0.6261", "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.6261.105 Mobile Safari/537.36 Teams/1416/1.0.0.2024022302", "Azure AD registered", true, true},
	{"Linux", "Firefox 123.0", "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0", "", false, false},
}

// attackerAgents are what sprays and fatigue attacks send.
var attackerAgents = []string{
	"python-requests/2.31.0",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Safari/537.36",
	"BAV2ROPC",
}

// appSpec is an application users sign in to, with the resource its
// tokens are for. The ids are Microsoft's well-known first-party ones.
type appSpec struct {
	id, name         string
	resID, resName   string
	clientApp        string
	nonInteractiveWt int // how often apps refresh tokens silently, relative
}

const (
	resGraph      = "00000003-0000-0000-c000-000000000000"
	resExchange   = "00000002-0000-0ff1-ce00-000000000000"
	resSharePoint = "00000003-0000-0ff1-ce00-000000000000"
	resAzureMgmt  = "797f4846-ba00-4fd7-ba43-dac1f8f63013"
)

var firstPartyApps = []appSpec{
	{"1fec8e78-bce4-4aaf-ab1b-5451cc387264", "Microsoft Teams", resGraph, "Microsoft Graph", "Mobile Apps and Desktop clients", 9},
	{"d3590ed6-52b3-4102-aeff-aad2292ab01c", "Microsoft Office", resExchange, "Office 365 Exchange Online", "Mobile Apps and Desktop clients", 8},
	{"00000002-0000-0ff1-ce00-000000000000", "Office 365 Exchange Online", resExchange, "Office 365 Exchange Online", "Browser", 3},
	{"4765445b-32c6-49b0-83e6-1d93765276ca", "OfficeHome", resGraph, "Microsoft Graph", "Browser", 2},
	{"ab9b8c07-8f02-4f72-87fa-80105867a763", "OneDrive SyncEngine", resSharePoint, "Office 365 SharePoint Online", "Mobile Apps and Desktop clients", 7},
	{"00000003-0000-0ff1-ce00-000000000000", "Office 365 SharePoint Online", resSharePoint, "Office 365 SharePoint Online", "Browser", 2},
	{"27922004-5251-4030-b22d-91ecd9a37ea4", "Outlook Mobile", resExchange, "Office 365 Exchange Online", "Mobile Apps and Desktop clients", 6},
	{"29d9ed98-a469-4536-ade2-f981bc1d605e", "Microsoft Authentication Broker", resGraph, "Microsoft Graph", "Mobile Apps and Desktop clients", 5},
	{"38aa3b87-a06d-4817-b275-7a316988d93b", "Windows Sign In", "01cb2876-7ebd-4aa4-9cc9-d28bd4d359a9", "Device Registration Service", "Mobile Apps and Desktop clients", 4},
	{"c44b4083-3bb0-49c1-b47d-974e53cbdf3c", "Azure Portal", resAzureMgmt, "Windows Azure Service Management API", "Browser", 1},
	{"2793995e-0a7d-40d7-bd35-6968ba142197", "My Apps", "0000000c-0000-0000-c000-000000000000", "Microsoft App Access Panel", "Browser", 1},
	{"ecd6b820-32c2-49b6-98a6-444530e5a77a", "Microsoft Edge", resGraph, "Microsoft Graph", "Mobile Apps and Desktop clients", 3},
	{"04b07795-8ddb-461a-bbee-02f9e1bf7b46", "Microsoft Azure CLI", resAzureMgmt, "Windows Azure Service Management API", "Mobile Apps and Desktop clients", 1},
	{"14d82eec-204b-4c2f-b7e8-296a70dab67e", "Microsoft Graph Command Line Tools", resGraph, "Microsoft Graph", "Mobile Apps and Desktop clients", 1},
	{"0ec893e0-5785-4de6-99da-4ed124e5296c", "Office UWP PWA", resGraph, "Microsoft Graph", "Browser", 1},
}

// The tenant's own line-of-business apps, past the first-party ones.
var lobAppNames = []string{"Expenses", "Timesheets", "Intranet", "HR Portal", "Travel Booking", "Wiki", "CRM", "Service Desk"}

// servicePrincipalNames are the tenant's automation.
var servicePrincipalNames = []string{
	"nightly-export", "backup-runner", "hr-sync", "ci-deploy", "invoice-ingest", "monitoring-probe",
	"teams-bot", "sharepoint-archiver", "license-report", "siem-connector", "mail-relay", "terraform",
}

var flagReasons = []string{
	"I did not sign in at this time",
	"I cannot sign in to this app",
	"Unexpected MFA prompt",
	"User reports being locked out",
	"Ticket from the service desk",
}

var flaggers = []string{"user", "user", "user", "helpdesk:servicenow", "helpdesk:servicenow", "admin:it.admin@contoso.example"}
