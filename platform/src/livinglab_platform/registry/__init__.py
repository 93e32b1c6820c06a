"""The ecosystem's registry: organisations, people and their tokens, sites, devices and the fleet's status."""
