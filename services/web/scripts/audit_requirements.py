"""make lint: pip-audit on the pinned requirements, where it can run.

pip-audit asks PyPI's advisory data for every pinned package. Where that
data is unreachable (this project's build machine reaches only the package
index), every package comes back "could not be audited": say so and skip,
rather than pass silently or fail for a reason that is not ours.
"""

import json
import subprocess
import sys

REQUIREMENTS = ["requirements.txt", "requirements-dev.txt"]


def main():
    args = [
        sys.executable,
        "-m",
        "pip_audit",
        "--format",
        "json",
        "--progress-spinner",
        "off",
    ]
    for name in REQUIREMENTS:
        args += ["-r", name]
    result = subprocess.run(args, capture_output=True, text=True)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        print(result.stderr.strip() or "pip-audit gave no report", file=sys.stderr)
        return 1
    dependencies = report["dependencies"]
    audited = [d for d in dependencies if "skip_reason" not in d]
    vulnerable = [d for d in audited if d.get("vulns")]
    if not audited:
        print(
            f"pip-audit: skipped, no advisory data reachable ({len(dependencies)} pins)"
        )
        return 0
    for dependency in vulnerable:
        ids = ", ".join(v["id"] for v in dependency["vulns"])
        print(f"{dependency['name']}=={dependency['version']}: {ids}")
    print(f"pip-audit: {len(audited)} audited, {len(vulnerable)} vulnerable")
    return 1 if vulnerable else 0


if __name__ == "__main__":
    sys.exit(main())
