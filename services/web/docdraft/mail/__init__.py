"""Mail: an outbox written in the transaction of the change that causes it.

`outbox.enqueue` adds a row; after the commit the job backend is nudged
(`submit_mail`), and a worker (`sender.send_due`) claims due mail under a
lease, sends it through SMTP and marks it sent. An SMTP server that is down
only delays mail: it goes back to the queue with a growing delay.
"""
