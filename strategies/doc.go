// Package strategies holds the ways Rotator turns a credential over, one
// sub-package each: single (one user changes its own password),
// alternating (two users take turns) and dualpassword (MySQL 8's primary
// and secondary password of one user). Each declares the small engine
// interface it needs; the engines (engines/postgres, engines/mysql)
// satisfy them without knowing the strategies exist.
package strategies
