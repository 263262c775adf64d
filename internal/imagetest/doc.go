// Package imagetest holds smoke tests, and only tests, of the container
// images .ci/docker builds from Debian's packages where Docker Hub is out
// of reach (.ci/images): rotator-test/postgres and rotator-test/mariadb.
// They check what the test rigs rely on: the environment variables that
// testcontainers-go's postgres and mysql modules set, password
// authentication for every account, and TLS with a certificate that
// verifies, host name included, against the CA made when the image was
// built (/etc/rotator-test/ca.pem, read out of the container).
//
// The tests run when $ROTATOR_TEST_IMAGE_POSTGRES / $ROTATOR_TEST_IMAGE_MARIADB
// name a rotator-test image (eval "$(.ci/docker)" sets them), a Docker
// engine answers and ROTATOR_TEST_BACKEND is not local or dsn; otherwise
// they skip, or fail under ROTATOR_TEST_BACKEND=containers.
package imagetest
