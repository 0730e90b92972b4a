"""The dashboard's date formats (settings.FORMAT_MODULE_PATH).

Localization is always on in Django 5, so the "en" locale's own formats would win over the
DATETIME_FORMAT setting: the project's formats are a locale format module, which Django
consults before its own. Templates name them (`|date:"DATETIME_FORMAT"`) instead of
spelling a pattern, so every page shows a moment the same way.
"""
