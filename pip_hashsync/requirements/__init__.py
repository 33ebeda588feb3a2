"""Requirements files as pip reads them: the reader turns files into typed lines with their
options and file:line, the rules decide hash-checking mode and judge every line by it, and
``hashes`` holds the allowed-hash sets. Hands on a RequirementSet and its allowed hashes.
"""
