package schemas

// Event is what travels on the internal, user-keyed topic: exactly one of
// its fields is set.
type Event struct {
	SignIn *SignIn `json:"signIn,omitempty"`
	Flag   *Flag   `json:"flag,omitempty"`
}
