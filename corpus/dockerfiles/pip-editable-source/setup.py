from setuptools import setup, find_packages

setup(
    name='etl-jobs',
    version='0.9.1',
    packages=find_packages(),
    install_requires=open('requirements.txt').read().splitlines(),
    extras_require={'dev': ['pytest', 'mypy']},
)
