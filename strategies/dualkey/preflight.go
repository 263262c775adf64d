package dualkey

import (
	"context"
	"fmt"

	"github.com/rotatorkit/rotator/rotator"
)

// Preflight checks, changing nothing, what a rotation of the secret
// needs: its fields, the admin secret and its guards, that the current
// key works, that the managing credential lists keys, and the vendor's
// key limit.
func (s *Strategy) Preflight(ctx context.Context, in rotator.PreflightInput) []rotator.Check {
	var checks []rotator.Check
	check := func(name string, st rotator.CheckStatus, detail, fix string) {
		checks = append(checks, rotator.Check{Name: name, Status: st, Detail: detail, Fix: fix})
	}
	cur := in.Current
	if err := s.validate("current", cur); err != nil {
		check("secret fields", rotator.CheckFail, err.Error(),
			fmt.Sprintf("store the key in %q (its vendor id in %q) with the fields the %s engine names", s.caps.ValueField, s.caps.IDField, s.caps.Vendor))
		return checks
	}
	check("secret fields", rotator.CheckPass, "valid", "")

	if err := s.engine.TestKey(ctx, rotator.TestKeyRequest{Key: cur}); err != nil {
		check("current key works", rotator.CheckFail, err.Error(), "store a working key in the secret before rotating it")
	} else {
		check("current key works", rotator.CheckPass, s.caps.Test, "")
	}

	admin := cur
	if cur.Has(FieldAdminARN) {
		a, ok := s.preflightAdmin(ctx, in, check)
		if !ok {
			return checks
		}
		admin = a
	} else {
		check("field adminarn", rotator.CheckPass, "absent: the key manages itself", "")
	}

	keys, err := s.engine.ListKeys(ctx, rotator.ListKeysRequest{Admin: admin, Account: cur})
	if err != nil {
		check("list keys", rotator.CheckFail, err.Error(),
			fmt.Sprintf("give the managing credential (%s) the %s permission to list, create and delete keys", who(cur, admin), s.caps.Vendor))
		return checks
	}
	_, curID := s.keyOf(cur)
	if admin != cur {
		switch {
		case curID == "":
			check("admin manages this key", rotator.CheckFail, fmt.Sprintf("the secret has no %q", s.caps.IDField),
				fmt.Sprintf(`add %q, the current key's id at %s: with "adminarn" it proves the admin secret manages this key's account`, s.caps.IDField, s.caps.Vendor))
		case !containsID(keys, curID):
			check("admin manages this key", rotator.CheckFail, fmt.Sprintf("the admin credential's %s account does not hold this secret's key", s.caps.Vendor),
				`set "adminarn" to the admin secret of this key's own account`)
		default:
			check("admin manages this key", rotator.CheckPass, "the current key is among the admin credential's keys", "")
		}
	}
	mine := 0
	if in.ARN != "" {
		mine = len(s.mine(keys, in.ARN, curID))
	}
	check("list keys", rotator.CheckPass, fmt.Sprintf("%d keys, %d made by this rotator for this secret", len(keys), mine), "")
	if s.caps.MaxKeys > 0 {
		// createSecret may free one rotator-made key that is not
		// AWSCURRENT's; hand-made keys count against the limit.
		freeable := mine
		if curID != "" && mine > 0 {
			for _, k := range s.mine(keys, in.ARN, curID) {
				if k.ID == curID {
					freeable--
				}
			}
		}
		if len(keys) >= s.caps.MaxKeys && freeable == 0 {
			check("key limit", rotator.CheckFail,
				fmt.Sprintf("%s allows %d keys and has %d, none of which this rotator may revoke", s.caps.Vendor, s.caps.MaxKeys, len(keys)),
				"revoke a key that nothing uses, by hand")
		} else {
			check("key limit", rotator.CheckPass, fmt.Sprintf("%d of %d", len(keys), s.caps.MaxKeys), "")
		}
	}
	if p, ok := s.engine.(Preflighter); ok {
		checks = append(checks, p.PreflightKeys(ctx, admin, cur)...)
	}
	return checks
}

func who(cur, admin *rotator.Secret) string {
	if cur == admin {
		return "the key itself"
	}
	return "the admin secret's"
}

// preflightAdmin reads and checks the admin secret.
func (s *Strategy) preflightAdmin(ctx context.Context, in rotator.PreflightInput, check func(string, rotator.CheckStatus, string, string)) (*rotator.Secret, bool) {
	arn, err := in.Current.Require(FieldAdminARN)
	if err != nil {
		check("field adminarn", rotator.CheckFail, err.Error(), "set \"adminarn\" to the ARN of the secret holding the credential that manages keys, or remove it")
		return nil, false
	}
	a, aARN, err := in.GetSecret(ctx, arn)
	if err != nil {
		check("field adminarn", rotator.CheckFail, "admin secret not readable: "+err.Error(),
			"check \"adminarn\", and allow secretsmanager:GetSecretValue on the admin secret to whoever runs the rotation")
		return nil, false
	}
	if aARN == "" || in.ARN == "" || aARN == in.ARN {
		err := adminRefusal(fmt.Errorf("admin secret: %w", rotator.ErrSelfReference))
		if aARN == "" || in.ARN == "" {
			err = adminRefusal(fmt.Errorf("admin secret: %w: Secrets Manager returned no ARN to tell it from the secret being rotated", rotator.ErrNotAllowed))
		}
		check("field adminarn", rotator.CheckFail, err.Error(), "set \"adminarn\" to the admin secret, not to this secret")
		return nil, false
	}
	if err := s.checkAdmin(a, in.Current); err != nil {
		check("field adminarn", rotator.CheckFail, err.Error(), "set \"adminarn\" to the secret of the credential that manages keys for this account")
		return nil, false
	}
	check("field adminarn", rotator.CheckPass, arn, "")
	return a, true
}

func containsID(keys []rotator.VendorKey, id string) bool {
	for _, k := range keys {
		if k.ID == id {
			return true
		}
	}
	return false
}
