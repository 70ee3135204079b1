package schemas

import "time"

// Flag is signindiag's own flag event, carried on the flag topic: someone
// (the user during sign-in, a help-desk tool, an admin) asks for a sign-in
// to be reviewed. It names the sign-in by at least one of its ids.
type Flag struct {
	ID                string    `json:"id,omitempty"`
	SignInID          string    `json:"signInId,omitempty"`
	CorrelationID     string    `json:"correlationId,omitempty"`
	RequestID         string    `json:"requestId,omitempty"`
	UserID            string    `json:"userId,omitempty"`
	UserPrincipalName string    `json:"userPrincipalName,omitempty"`
	FlaggedAt         time.Time `json:"flaggedAt"`
	FlaggedBy         string    `json:"flaggedBy,omitempty"`
	Reason            string    `json:"reason,omitempty"`
}

// UserKey groups a flag with its user's sign-ins.
func (f *Flag) UserKey() string { return UserKey(f.UserID, f.UserPrincipalName, "") }
