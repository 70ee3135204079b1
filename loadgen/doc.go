// Package loadgen generates the sign-in traffic of a realistic Entra ID
// tenant, as the sign-in and flag topics would carry it: Microsoft Graph
// signIn objects and Azure Monitor (Event Hubs) envelopes, mostly
// non-interactive successes, with MFA interrupts, bad passwords,
// Conditional Access blocks, lockouts, service principals, and at fixed
// points a password spray and an MFA-fatigue burst. Delivery is as messy
// as Event Hubs makes it: some records arrive late, some messages twice.
//
// The stream is a pure function of the Config: the same seed gives the
// same bytes. Records are written by appending pre-rendered fragments, so
// one core produces over 400 000 sign-ins of about 4 KB a second; the
// package writes nothing anywhere (the caller sends the messages).
package loadgen
