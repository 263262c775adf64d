// Package twilio is the dual-key engine (strategies/dualkey) for Twilio
// API keys.
//
// A new Standard key is made with IAM v1 (POST https://iam.twilio.com/v1/Keys,
// AccountSid and FriendlyName), or with POST
// /2010-04-01/Accounts/{AccountSid}/Keys.json where only the 2010-04-01
// API is served (TWILIO_CREATE_API=2010); keys are listed and deleted through the
// 2010-04-01 API (/2010-04-01/Accounts/{AccountSid}/Keys.json and
// /Keys/{Sid}.json). A key is tested with GET
// /2010-04-01/Accounts/{AccountSid}/Balance.json authenticated by the key's
// SID and secret: a read-only call a Standard key may make (Standard keys
// may not read the /Accounts resource itself, nor /Keys).
//
// The application's secret:
//
//	{"account_sid": "AC...", "api_key_sid": "SK...", "api_key_secret": "...",
//	 "adminarn": "arn:aws:secretsmanager:...:secret:twilio/admin"}
//
// A Standard key cannot manage keys, so "adminarn" is required: it names
// a secret holding the same "account_sid" and either the account's
// "auth_token" or a Main key ("api_key_sid" and "api_key_secret" of a key
// of type Main, made in the Console). The strategy names each key it
// makes "rotator-<digest of the secret's ARN>-<token>" (FriendlyName, at
// most 64 characters) and revokes only keys carrying its prefix.
package twilio
