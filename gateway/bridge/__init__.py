"""Every crossing from the async request path to the ORM and to Redis's money state.

`store` reads (keys, offers, budgets, records) in pool threads; `recorder` writes usage records
from one thread; `reservations` holds requests' worst-case costs (one backend per process:
Redis or the database); `journal` keeps what each request did on local disk until its record
is stored, so that a killed process's requests are billed by the next sweep.
"""
