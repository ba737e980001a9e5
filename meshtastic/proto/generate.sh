#!/bin/sh
# Regenerates meshtastic/pb/*.pb.go from meshtastic/proto/*.proto.
# Run from the repository root: sh meshtastic/proto/generate.sh
# protoc-gen-go is built from the version pinned by the go.mod tool directive,
# so the output only depends on that pin and on the local protoc.
set -eu

if [ ! -f go.mod ] || [ ! -d meshtastic/proto ]; then
	echo "generate.sh: run this from the repository root" >&2
	exit 1
fi

command -v protoc >/dev/null 2>&1 || {
	echo "generate.sh: protoc not found (Debian: apt-get install protobuf-compiler)" >&2
	exit 1
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

go build -o "$tmp/protoc-gen-go" google.golang.org/protobuf/cmd/protoc-gen-go

# Drop stale output so a removed .proto does not leave its .pb.go behind.
mkdir -p meshtastic/pb
rm -f meshtastic/pb/*.pb.go

protoc \
	--plugin=protoc-gen-go="$tmp/protoc-gen-go" \
	-I meshtastic/proto \
	--go_out=. \
	--go_opt=module=github.com/meshgate/meshgate \
	meshtastic/proto/*.proto
