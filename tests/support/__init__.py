"""What the tests share besides fixtures: servers, workers, the services' settings, the cluster's
runs. Test modules and conftest files import these; conftest files hold fixtures only."""
