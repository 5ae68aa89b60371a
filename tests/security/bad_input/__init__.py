"""Bad input (issue 6, item 5): generated form posts, parameters, URLs and import lines.

For every form and parameter of the portal, Hypothesis generates values a browser would never send
— dates out of range, garbage and SQL-looking strings, NUL bytes, very long and huge values, missing
fields, other parties' ids, tampered hidden fields — and each test asserts:

- never a 500: exceptions propagate from the test client, so a crash fails the test with its traceback;
- never a write that is not expected: the rows of ``Grant``, ``GrantEvent``,
  ``LivestreamAccessRequest`` and ``LivestreamAccessEvent`` change only when the post is valid (the
  oracle says so, from the rules of the spec model ``tests/model/spec_model.py``, the one the
  stateful test also uses), and then by exactly one operation;
- always a readable answer: the inline error text naming the rule, or 403/404.

Each example runs inside a savepoint that is rolled back, so examples do not leak into each other;
the world is built once per test. The import command is fuzzed with whole files of broken lines.

The bugs these tests found (each has its own regression test under "bugs found" in the file of its
section) are fixed; the generators cover their classes of input again.

Where things are:

- ``test_grant_forms.py``: authorize, renew early, renew, revoke; other parties posting to them;
- ``test_livestream_requests.py``: unlock requests and the creator's decisions;
- ``test_perspective_switch.py``: a main account picking a creator;
- ``test_ranges_filters_searches.py``: the data range parameters, list filters and searches (GET);
- ``test_login_and_language.py``: the login form and the language switch;
- ``test_malformed_ids.py``: garbage and huge ids in every URL that takes one;
- ``test_import_command.py``: ``import_livestreams`` with broken lines;
- ``world.py`` (the ``world`` fixture in ``conftest.py``), ``generators.py`` (the values),
  ``helpers.py`` (posting, counting rows, checking answers), ``oracle.py`` (the spec model's
  refusals as the pages show them).
"""
