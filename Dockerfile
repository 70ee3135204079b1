# signindiag: a static binary on a distroless base.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/signindiag ./cmd/signindiag

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/signindiag /usr/local/bin/signindiag
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/signindiag"]
CMD ["run"]
