"""iLink 3: CME's binary order entry, as far as ncctl needs it.

* :mod:`ncctl.ilink.sbe` - the SBE codec of the FIXP session messages (500-507), the
  BusinessReject (521) and the party-details messages (518, 519, 537, 538), with framing.
* :mod:`ncctl.ilink.fixp` - a FIXP client session over TCP (Negotiate, Establish, sequenced
  application messages, Terminate); :mod:`ncctl.ilink.fixp_signatures` - its HMAC signatures.
* :mod:`ncctl.ilink.credentials` - the access key id and secret, from a key file.
* :mod:`ncctl.ilink.section` - the configuration models (``[ilink]``, ``[[party_details]]``).
* :mod:`ncctl.ilink.registration` - weekly party-details registration;
  :mod:`ncctl.ilink.party_lookup` - listing and verification;
  :mod:`ncctl.ilink.session_gate` - whether the order session may come up.
* :mod:`ncctl.ilink.audit_trail` - the CME audit-trail file; :mod:`ncctl.ilink.status` - the
  read-only registration status.
* :mod:`ncctl.ilink.errors` - the errors of all of the above.

Nothing is imported here, so that importing one module stays cheap.
"""
