package entra

// The member ids, the tables of member names and the switches that send
// each member of a model type to its reader (decode_gen.go) are generated
// from the types of package schemas by internal/gen, which reads them by
// reflection. After changing a type of the model (a new field usually needs
// nothing else), or a reader in internal/gen/spec.go, run
// `go generate ./schemas/entra/` and commit decode_gen.go;
// TestGeneratedCodeIsCurrent fails while it is stale.
//
//go:generate go run ./internal/gen -o decode_gen.go
