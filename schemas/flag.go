package schemas

import "time"

// Flag is signindiag's own flag event, carried on the flag topic: someone
// (the user during sign-in, a help-desk tool, an admin) asks for a sign-in
// to be reviewed. It names the sign-in by at least one of its ids.
type Flag struct {
	ID                string    `json:"id,omitempty" msg:"a,omitempty"`
	SignInID          string    `json:"signInId,omitempty" msg:"b,omitempty"`
	CorrelationID     string    `json:"correlationId,omitempty" msg:"c,omitempty"`
	RequestID         string    `json:"requestId,omitempty" msg:"d,omitempty"`
	UserID            string    `json:"userId,omitempty" msg:"e,omitempty"`
	UserPrincipalName string    `json:"userPrincipalName,omitempty" msg:"f,omitempty"`
	FlaggedAt         time.Time `json:"flaggedAt" msg:"g"`
	FlaggedBy         string    `json:"flaggedBy,omitempty" msg:"h,omitempty"`
	Reason            string    `json:"reason,omitempty" msg:"i,omitempty"`
}

// UserKey groups a flag with its user's sign-ins.
func (f *Flag) UserKey() string { return UserKey(f.UserID, f.UserPrincipalName, "") }
