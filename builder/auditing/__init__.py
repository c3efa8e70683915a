"""Known vulnerabilities of what the lockfile pins: OSV records, matched against locked versions.

``components`` lists what an image holds (from the lockfile alone), ``osv`` asks the OSV API
or reads its archives, ``matching`` decides which records affect a version, ``severity`` rates
them, ``ignores`` reads the accepted ones (audit.yaml), ``findings`` puts it together,
``formats`` writes the reports and ``security_hub`` imports them into AWS Security Hub.
"""
