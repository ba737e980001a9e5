# syntax=docker/dockerfile:1
#
# meshgate container image: a static binary on a distroless base, running as
# a non-root user, with all state (host key, authorized_keys, config, database)
# in the /data volume. See README "Deployment" for docker run examples.

# ---- build: the same command as `make build` (CGO_ENABLED=0, static) ----
FROM golang:1.26-bookworm AS build
WORKDIR /src
# Module downloads are cached in their own layer.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN make build VERSION=${VERSION} \
 && mkdir -p /out/data

# ---- run ----
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /src/bin/meshgate /usr/local/bin/meshgate
# The volume starts out owned by the runtime user (65532, "nonroot").
COPY --from=build --chown=65532:65532 /out/data /data
ENV MESHGATE_DATA_DIR=/data \
    MESHGATE_LISTEN=:2222
VOLUME ["/data"]
EXPOSE 2222
USER 65532:65532
# The binary checks itself: it connects and expects meshgate's SSH banner.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["/usr/local/bin/meshgate", "health", "--timeout", "4s", "127.0.0.1:2222"]
ENTRYPOINT ["/usr/local/bin/meshgate"]
CMD ["serve"]
