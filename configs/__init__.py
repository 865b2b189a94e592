"""The built-in profiles (simulator, sandbox, production).

This folder is installed as the package ``engine.profiles`` (see ``package-dir`` in
pyproject.toml), so a wheel or a plain ``pip install .`` finds the profiles through
``importlib.resources`` from any directory, while the repository keeps them in ``configs/``.
"""
