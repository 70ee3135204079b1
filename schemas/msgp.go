package schemas

// The MessagePack methods (signin_msgp.go, flag_msgp.go) are generated:
// they are the binary codec of the internal Kafka topics (see package
// schemas/wire). Fields keep their JSON names as map keys, so a field
// added later is skipped by older decoders; times decode in UTC; arrays
// longer than 65535 are refused, so a corrupt length cannot allocate
// gigabytes. Regenerate with `go generate ./schemas/` after changing a
// type. The generator's version is pinned here; building needs only its
// runtime library.
//
//go:generate go run github.com/tinylib/msgp@v1.6.5 -file signin.go -o signin_msgp.go -io=false -tests=false -d "tag json" -d "timezone utc" -d "limit arrays:65535 maps:1024"
//go:generate go run github.com/tinylib/msgp@v1.6.5 -file flag.go -o flag_msgp.go -io=false -tests=false -d "tag json" -d "timezone utc" -d "limit arrays:65535 maps:1024"
