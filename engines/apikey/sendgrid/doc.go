// Package sendgrid is the dual-key engine for Twilio SendGrid API keys
// (/v3/api_keys): it creates a key with the scopes the secret lists, lists
// keys, deletes one, and tests a key with GET /v3/scopes, which any key
// may call and which changes nothing.
//
// The secret:
//
//	{"api_key": "SG....", "key_id": "...", "scopes": ["mail.send"],
//	 "region": "eu", "on_behalf_of": "subuser", "adminarn": "arn:..."}
//
// "api_key" is the key, "key_id" its id (absent for a key made by hand:
// the first rotation needs none), "scopes" the permissions every new key
// gets (required: SendGrid gives a key created without scopes full
// access). "region" "eu" selects api.eu.sendgrid.com (default "global",
// api.sendgrid.com); no other host is ever used. "on_behalf_of" manages the
// keys of a subuser from its parent account's admin key.
//
// The managing credential (the key itself, or the admin secret's
// "api_key") needs the scopes api_keys.create, api_keys.read and
// api_keys.delete, and every scope it hands out. SendGrid allows 100 keys
// an account.
package sendgrid
