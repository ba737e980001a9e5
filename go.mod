module github.com/meshgate/meshgate

go 1.26.0

require (
	go.bug.st/serial v1.8.0
	golang.org/x/sys v0.50.0
)

require google.golang.org/protobuf v1.36.12

tool google.golang.org/protobuf/cmd/protoc-gen-go
