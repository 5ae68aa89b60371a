"""The load test: 50 concurrent users against gunicorn on loopback with PostgreSQL (``make load``)."""
