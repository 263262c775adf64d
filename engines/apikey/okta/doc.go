// Package okta is the dual-key engine (strategies/dualkey) for the client
// secrets of an Okta OAuth 2.0 / OIDC app, through
// /api/v1/apps/{appId}/credentials/secrets.
//
// Okta keeps at most two client secrets per app and secrets carry no
// name, so the engine tells the strategy: at most 2 keys (createSecret
// first frees a slot: AWSPREVIOUS's secret, never AWSCURRENT's or one
// this rotator did not record), keys found by the ids the secret's
// versions record, and activation needed. A new secret is created
// INACTIVE, activated by setSecret (POST .../lifecycle/activate), and a
// secret is always deactivated (POST .../lifecycle/deactivate) before it
// is deleted: Okta deletes only inactive secrets.
//
// A new secret is tested with the OAuth 2.0 token introspection endpoint
// of the org authorization server (POST /oauth2/v1/introspect, RFC 7662),
// the client authenticating with its client_id and the new secret
// (client_secret_basic, or client_secret_post when the secret says so):
// Okta answers 200 to an authenticated client (the random token sent is
// reported inactive) and 401 invalid_client to a wrong or inactive
// secret. It changes nothing and needs no grant type or scope on the app.
//
// The application's secret:
//
//	{"org_url": "https://example.okta.com", "client_id": "0oa...",
//	 "client_secret": "...", "client_secret_id": "ocs...",
//	 "adminarn": "arn:aws:secretsmanager:...:secret:okta/admin"}
//
// optionally with "app_id" (when it differs from client_id) and
// "token_endpoint_auth_method" ("client_secret_basic" or
// "client_secret_post"). A client secret cannot manage client secrets, so
// "adminarn" is required: it names a secret with the same "org_url" and
// an "api_token" (sent as "SSWS <token>"; an admin with the
// okta.apps.manage permission, e.g. the Application Administrator role)
// or an OAuth 2.0 "access_token" with the okta.apps.manage scope.
//
// "org_url" must be an https URL of an Okta domain (*.okta.com,
// *.oktapreview.com, *.okta-emea.com) or a host the function allows
// (OKTA_ALLOWED_HOSTS, WithAllowedHosts: custom domains), so that a
// secret cannot send the admin's token to a host of its writer's choosing.
package okta
