package rotator

import "sync"

// maxValuedVersions bounds valuedVersions: a warm function sees one
// rotation at a time, the command line a handful.
const maxValuedVersions = 256

// valuedVersions remembers which (secret, token) versions this process saw
// holding a value. The fact never becomes false: a version's value cannot be
// changed or removed, only the version itself (and then DescribeSecret no
// longer lists it). Four steps of a rotation usually run in one warm
// process, so finishSecret's check that it promotes a version with a value
// costs no call there.
type valuedVersions struct {
	mu    sync.Mutex
	set   map[string]struct{}
	order []string
}

func valuedKey(secretID, token string) string { return secretID + "\x00" + token }

func (v *valuedVersions) has(secretID, token string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	_, ok := v.set[valuedKey(secretID, token)]
	return ok
}

func (v *valuedVersions) add(secretID, token string) {
	k := valuedKey(secretID, token)
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.set == nil {
		v.set = map[string]struct{}{}
	}
	if _, ok := v.set[k]; ok {
		return
	}
	if len(v.order) >= maxValuedVersions {
		delete(v.set, v.order[0])
		v.order = v.order[1:]
	}
	v.set[k] = struct{}{}
	v.order = append(v.order, k)
}
