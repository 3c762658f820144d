"""Run by a Home Assistant venv's Python: the requirements Home Assistant would pip-install at run time.

    python requirements.py DOMAIN...           print them, one a line
    python requirements.py --check DOMAIN...   exit 1, naming them, if any is not installed as required

Home Assistant checks (and installs) the requirements of every integration it
sets up, of their dependencies and after-dependencies, and of the discovery
integrations their manifests name (``homeassistant/requirements.py``). This
walks the same graph from the given domains plus bootstrap's core and default
integrations, which every start sets up, and adds the auth modules'
requirements (the default multi-factor module, "totp", has some). Manifests are read from the installed
package, so the answer is the installed version's own.

Only the standard library, ``packaging`` and ``homeassistant`` (all in that venv).
"""

from __future__ import annotations

import ast
import json
import os
import re
import sys

# run as a script, its own folder comes first on sys.path: keep its modules (rig.py, docs.py, ...)
# from shadowing anything Home Assistant imports
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]


def closure(domains: list[str]) -> dict[str, str]:
    import homeassistant
    from homeassistant import bootstrap
    from homeassistant.requirements import DISCOVERY_INTEGRATIONS

    components = os.path.join(os.path.dirname(homeassistant.__file__), "components")
    todo = [*domains, *bootstrap.CORE_INTEGRATIONS, *bootstrap.DEFAULT_INTEGRATIONS]
    seen: set[str] = set()
    requirements: dict[str, str] = {}
    while todo:
        domain = todo.pop()
        if domain in seen:
            continue
        seen.add(domain)
        path = os.path.join(components, domain, "manifest.json")
        if not os.path.exists(path):
            continue
        with open(path) as f:
            manifest = json.load(f)
        for requirement in manifest.get("requirements", []):
            requirements.setdefault(requirement, domain)
        todo += manifest.get("dependencies", []) + manifest.get("after_dependencies", [])
        todo += [d for d, keys in DISCOVERY_INTEGRATIONS.items() if any(k in manifest for k in keys)]
    # the auth modules' own REQUIREMENTS (the default "totp" multi-factor module: Home Assistant
    # 2026.2 installs them while starting, and does not start without them)
    auth = os.path.join(os.path.dirname(homeassistant.__file__), "auth")
    for folder in ("mfa_modules", "providers"):
        for name in sorted(os.listdir(os.path.join(auth, folder))):
            if name.endswith(".py"):
                with open(os.path.join(auth, folder, name)) as f:
                    found = re.search(r"^REQUIREMENTS\s*=\s*(\[.*?\])", f.read(), re.M | re.S)
                if found:
                    for requirement in ast.literal_eval(found[1]):
                        requirements.setdefault(requirement, f"auth.{folder}.{name[:-3]}")
    return requirements


def unsatisfied(requirements) -> list[str]:
    from importlib.metadata import PackageNotFoundError, version

    from packaging.requirements import Requirement
    out = []
    for text in requirements:
        req = Requirement(text)
        try:
            installed = version(req.name)
        except PackageNotFoundError:
            out.append(f"{text} (not installed)")
            continue
        if not req.specifier.contains(installed, prereleases=True):
            out.append(f"{text} ({installed} installed)")
    return out


def main(argv: list[str]) -> int:
    check = "--check" in argv
    domains = [a for a in argv if a != "--check"]
    requirements = closure(domains)
    if check:
        missing = unsatisfied(requirements)
        if missing:
            print("not installed as Home Assistant requires: " + ", ".join(missing), file=sys.stderr)
            return 1
        return 0
    for requirement in sorted(requirements, key=str.lower):
        print(requirement)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
