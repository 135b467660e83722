// Package browser drives the real binary's sign-in pages in headless
// Chromium (Debian's chromium package, through chromedp) with a virtual
// WebAuthn authenticator added over the DevTools protocol: enrolment,
// sign-in, the account page, step-up, ending another session, removing
// the passkey, and the ledger's record of all of it. `make test` installs
// Chromium when it is missing (scripts/chromium.sh), so these tests run
// on a fresh machine rather than skip.
package browser
