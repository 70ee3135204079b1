package schemas

// The MessagePack methods (signin_msgp.go, flag_msgp.go) are generated:
// they are the binary codec of the internal Kafka topics (see package
// schemas/wire) and of the stored sign-in documents. Each field's map key
// is its short `msg` tag (one or two letters, unique within its struct),
// not its JSON name: the JSON names were 40% of every message and of every
// stored document. The keys are part of the format: a new field takes an
// unused key, and a removed field's key is never given to another; a field
// added later is still skipped by older decoders. Times decode in UTC;
// arrays longer than 65535 are refused, so a corrupt length cannot
// allocate gigabytes. Regenerate with `go generate ./schemas/` after changing a
// type. The generator's version is pinned here; building needs only its
// runtime library.
//
//go:generate go run github.com/tinylib/msgp@v1.6.5 -file signin.go -o signin_msgp.go -io=false -tests=false -d "tag msg" -d "timezone utc" -d "limit arrays:65535 maps:1024"
//go:generate go run github.com/tinylib/msgp@v1.6.5 -file flag.go -o flag_msgp.go -io=false -tests=false -d "tag msg" -d "timezone utc" -d "limit arrays:65535 maps:1024"
