// Package ratelimit holds the keyed rate limits of DESIGN.md §5 as GCRA
// buckets: in process, or shared by every instance through one Redis Lua
// script. It knows nothing of HTTP: api/ decides which budgets a request
// spends and how a refusal is answered.
//
// Both backends pass one contract (TestRateLimiterContract);
// ratelimittest builds a limiter of each for the tests of other packages.
package ratelimit
