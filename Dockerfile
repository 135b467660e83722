# authledger: one static binary on a small non-root image.
# Build: docker build -t authledger .   (docker compose up builds it too)

FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so source edits do not re-download them.
# The main module requires the client module through a replace to ./client.
COPY go.mod go.sum ./
COPY client/go.mod client/go.sum ./client/
RUN GOWORK=off go mod download
COPY . .
# modernc.org/sqlite is pure Go: no cgo, a static binary.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/authledger ./cmd/authledger

# Alpine rather than distroless for busybox wget, which the health checks use.
FROM alpine:3.22
RUN addgroup -S -g 10001 authledger \
 && adduser -S -D -H -u 10001 -G authledger authledger \
 && mkdir -p /data && chown 10001:10001 /data && chmod 700 /data
COPY --from=build /out/authledger /usr/local/bin/authledger
# The embedded profile keeps its ledger, read models and secrets in /data;
# the production profile (docker-compose.yml) points the ledger at PostgreSQL.
ENV AUTHLEDGER_LISTEN=0.0.0.0:8080 \
    AUTHLEDGER_DATA_DIR=/data
VOLUME /data
EXPOSE 8080
USER 10001:10001
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD wget -q -O /dev/null http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["authledger"]
CMD ["serve"]
