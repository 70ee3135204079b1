package wire

import (
	"time"

	"github.com/signindiag/signindiag/schemas"
)

//go:generate go run github.com/tinylib/msgp@v1.6.5 -file spray_candidate.go -o spray_candidate_msgp.go -io=false -tests=false -d "timezone utc" -d "limit arrays:65535 maps:1024"

// SprayCandidate is what the IP-keyed topic carries: the fields of a
// failed sign-in that the spray stage (its per-IP window and storage) and
// the password_spray rule and finding read, and nothing else. Keys are
// short: this record is written once per spray-candidate failure.
type SprayCandidate struct {
	// Identity: Category + "/" + ID; the finding's id and sign-in id.
	ID       string `msg:"id"`
	Category string `msg:"cat"`
	// The window's time; the finding's occurredAt.
	CreatedDateTime time.Time `msg:"t"`
	// The window's key.
	IPAddress string `msg:"ip"`
	// The user key (schemas.UserKey) and the finding's user.
	UserID             string `msg:"uid"`
	UserPrincipalName  string `msg:"upn"`
	ServicePrincipalID string `msg:"spid"`
	// Who and what the finding's text names.
	UserDisplayName      string `msg:"uname"`
	ServicePrincipalName string `msg:"spname"`
	AppID                string `msg:"app"`
	AppDisplayName       string `msg:"appname"`
	ErrorCode            int    `msg:"err"`
	// Where from, in the finding's summary.
	City            string `msg:"city"`
	CountryOrRegion string `msg:"country"`
	ClientAppUsed   string `msg:"client"`
	OperatingSystem string `msg:"os"`
	// Carried into the finding.
	CorrelationID    string `msg:"corr"`
	FlaggedForReview bool   `msg:"flagged"`
}

// NewSprayCandidate takes from si what the spray stage reads.
func NewSprayCandidate(si *schemas.SignIn) SprayCandidate {
	return SprayCandidate{
		ID: si.ID, Category: si.Category, CreatedDateTime: si.CreatedDateTime, IPAddress: si.IPAddress,
		UserID: si.UserID, UserPrincipalName: si.UserPrincipalName, ServicePrincipalID: si.ServicePrincipalID,
		UserDisplayName: si.UserDisplayName, ServicePrincipalName: si.ServicePrincipalName,
		AppID: si.AppID, AppDisplayName: si.AppDisplayName, ErrorCode: si.Status.ErrorCode,
		City: si.Location.City, CountryOrRegion: si.Location.CountryOrRegion, ClientAppUsed: si.ClientAppUsed,
		OperatingSystem: si.DeviceDetail.OperatingSystem, CorrelationID: si.CorrelationID, FlaggedForReview: si.FlaggedForReview,
	}
}

// SignIn builds the partial sign-in that rules.SprayRule (Candidate and
// Evaluate, with the finding it builds) and the spray stage need. It sets
// exactly these fields, every other one is zero:
//
//	ID, Category                          Identity(), finding id and signInId
//	CreatedDateTime                       window time, finding occurredAt
//	IPAddress                             window key, Candidate, finding text
//	UserID, UserPrincipalName,
//	ServicePrincipalID                    UserKey(), Candidate, finding user
//	UserDisplayName, ServicePrincipalName finding text (who)
//	AppID, AppDisplayName                 finding app and text (app)
//	Status.ErrorCode                      Candidate, finding errorCode and text
//	Location.City, .CountryOrRegion,
//	ClientAppUsed,
//	DeviceDetail.OperatingSystem          finding text (from)
//	CorrelationID, FlaggedForReview       finding correlationId and flagged
//
// A rule that starts reading another field needs it added here, to
// NewSprayCandidate and to the struct; the test comparing findings from
// the full and the partial sign-in catches the omission.
func (c *SprayCandidate) SignIn() *schemas.SignIn {
	return &schemas.SignIn{
		ID: c.ID, Category: c.Category, CreatedDateTime: c.CreatedDateTime, IPAddress: c.IPAddress,
		UserID: c.UserID, UserPrincipalName: c.UserPrincipalName, ServicePrincipalID: c.ServicePrincipalID,
		UserDisplayName: c.UserDisplayName, ServicePrincipalName: c.ServicePrincipalName,
		AppID: c.AppID, AppDisplayName: c.AppDisplayName, Status: schemas.Status{ErrorCode: c.ErrorCode},
		Location:      schemas.Location{City: c.City, CountryOrRegion: c.CountryOrRegion},
		ClientAppUsed: c.ClientAppUsed, DeviceDetail: schemas.DeviceDetail{OperatingSystem: c.OperatingSystem},
		CorrelationID: c.CorrelationID, FlaggedForReview: c.FlaggedForReview,
	}
}

// UserKey is the candidate's grouping identity, as schemas.SignIn.UserKey.
func (c *SprayCandidate) UserKey() string {
	return schemas.UserKey(c.UserID, c.UserPrincipalName, c.ServicePrincipalID)
}

// Identity names the sign-in, as schemas.SignIn.Identity.
func (c *SprayCandidate) Identity() string { return c.Category + "/" + c.ID }
