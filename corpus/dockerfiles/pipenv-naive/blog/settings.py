SECRET_KEY = 'change-me'
INSTALLED_APPS = ['django.contrib.staticfiles']
STATIC_ROOT = 'static'
ROOT_URLCONF = 'blog.urls'
