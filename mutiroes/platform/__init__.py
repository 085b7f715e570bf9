"""What every part leans on: the Redis client and its guard, the circuit breakers, database retries, health,
metrics, Consul registration and drain, throttles, image storage and logging. It imports no domain and no web.
"""
