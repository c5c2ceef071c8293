"""The playbooks that ship with Resonate (YAML files beside this module).

Installed as a package only so the files travel with the distribution; the code
that reads them is :mod:`bot.playbooks`.
"""
