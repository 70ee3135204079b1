package queryapi

import (
	_ "embed"
	"net/http"
)

// OpenAPI is the API's description (OpenAPI 3.0), written by hand and held
// equal to the routes and their answers by openapi_test.go.
//
//go:embed openapi.json
var OpenAPI []byte

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(OpenAPI)
}
