// Package compose keeps docker-compose.yml and the Dockerfile valid without
// a Docker engine: the compose file is loaded with compose-go, the loader
// behind `docker compose config`, and checked against the production
// profile of DESIGN.md §2.
package compose
