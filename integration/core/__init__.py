"""Settings, database, Redis, errors and clock: the layer every other package stands on."""
