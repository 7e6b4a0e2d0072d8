from django.utils import translation


class PreferredLanguageMiddleware:
    """Serve a logged-in user in the language stored on their profile.

    Runs after LocaleMiddleware and AuthenticationMiddleware, so the profile wins over
    the browser's Accept-Language; the language switcher updates the profile.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.preferred_language:
            translation.activate(user.preferred_language)
            request.LANGUAGE_CODE = user.preferred_language
        return self.get_response(request)
