"""Small pieces every app uses: the domain error type and rate limiting.

It holds no models and imports no app, so every app may depend on it.
"""
