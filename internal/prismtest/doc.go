// Package prismtest runs Prism (@stoplight/prism-cli) as a mock of a
// vendor's official OpenAPI description, validating every request a
// vendor engine sends: the contract tests (names containing "Contract").
//
//	srv := prismtest.Start(t, "sendgrid-api-keys.json", "sendgrid-scopes.json")
//	engine := sendgrid.New(sendgrid.WithBaseURL(srv.URL), sendgrid.WithRootCAs(srv.CAs))
//	... run the engine's calls and a rotation ...
//	srv.AssertValid(t)
//
// Start runs one `prism mock` a spec (Prism serves one description a
// process) behind one HTTPS front that routes each request by path to
// the spec that declares it, and records every request Prism refused or
// flagged (a 4xx/5xx answer, or a request violation in the sl-violations
// header). A request no spec declares is a violation too. Violations of
// the response (a vendor's own example that does not match its own
// schema, as Twilio's relative next_page_uri) are logged, not failed:
// they say nothing of the engine's request, and with --errors Prism
// would have answered them with a 500.
//
// The specs live in specs/ (trimmed copies of the vendors' descriptions;
// specs/README.md says where each comes from). Prism is found at
// $ROTATOR_PRISM, else as "prism" on PATH, else in the repository's
// .tools/prism/node_modules/.bin (where `.ci/run` installs it). Without
// node, Prism or a spec the test is skipped with the reason, unless
// ROTATOR_REQUIRE_CONTRACT=1 makes that a failure.
package prismtest
