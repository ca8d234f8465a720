"""The arq worker pool: provisioning jobs, the sweeper, and the driver they use."""
