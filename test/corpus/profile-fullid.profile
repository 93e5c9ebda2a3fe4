# DS CLI profile: the array, and output as the reporting scripts want it.
hmc1:     10.10.10.1
username: admin
pwfile:   /home/admin/.dscli.pw
devid:    IBM.2107-75KDR91
format:   delim
delim:    |
banner:   off
header:   on
fullid:   on
paging:   off
