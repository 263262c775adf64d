package secretcache

// WaitFetches waits until no fetch is in flight: tests use it to observe a
// background refresh after it ended, without sleeping.
func (c *Cache) WaitFetches() { c.wg.Wait() }
