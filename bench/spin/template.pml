/*
 * Credit-based producer/consumer, 2 producers and 2 consumers: the Promela
 * side of ipclab's SPIN comparison (bench/spin, docs/checking.md, "Speed and
 * memory against SPIN"). gen.sh prepends N (credits per consumer), CAP (the
 * kernel buffer: 0 = rendezvous) and, for direct addressing, DIRECT.
 *
 * The same program as template-direct.ipc / template-indirect.ipc:
 *  - processes are numbered as in ipclab: Producer[0..1] are _pid 0..1,
 *    Consumer[0..1] are _pid 2..3 (active proctypes, in declaration order);
 *  - direct addressing: one channel per receiving process, each message
 *    carries its sender (ipclab's status.source); every receive is
 *    recv(ANY), which takes the oldest message: the channel's head;
 *  - indirect addressing: one channel per mailbox, no sender;
 *  - capacity: CAP per channel = ipclab's per-destination quota
 *    (receiver_quota, mailbox capacity); ipclab's shared pool
 *    (buffer_slots) is set to the sum of those quotas, so it never binds;
 *    CAP = 0 is a rendezvous channel, ipclab's buffer_slots = 0;
 *  - produce gives 1 (ipclab's checker abstracts every item to 1);
 *  - consume is the progress label (ipclab's default progress statements
 *    are produce and consume; a cycle without consume is one without
 *    produce too here, since a producer needs a credit per item).
 */
#define P 2
#define C 2

#ifdef DIRECT
chan q[P + C] = [CAP] of { byte, byte };   /* to process i: (source, value) */
#else
chan prodMbox = [CAP] of { byte };         /* credits, consumers -> producers */
chan consMbox = [CAP] of { byte };         /* items, producers -> consumers */
#endif

active [P] proctype Producer()
{
	byte item, credit;
#ifdef DIRECT
	byte customer;
#endif
	do
	:: item = 1;                      /* produce item */
#ifdef DIRECT
	   q[_pid] ? customer, credit;    /* recv(ANY, credit); customer = status.source */
	   q[customer] ! _pid, item       /* send(customer, item) */
#else
	   prodMbox ? credit;             /* recv(prodMbox, credit) */
	   consMbox ! item                /* send(consMbox, item) */
#endif
	od
}

active [C] proctype Consumer()
{
	byte k, item, credit;
#ifdef DIRECT
	byte src;
#endif
	do
	:: k < N ->
#ifdef DIRECT
	   q[(_pid - P + k) % P] ! _pid, credit;  /* send(Producer[(index + k) % 2], credit) */
#else
	   prodMbox ! credit;                     /* send(prodMbox, credit) */
#endif
	   k++
	:: else -> break
	od;
	do
	::
#ifdef DIRECT
	   q[_pid] ? src, item;      /* recv(ANY, item) */
	   q[src] ! _pid, credit;    /* send(status.source, credit) */
#else
	   consMbox ? item;          /* recv(consMbox, item) */
	   prodMbox ! credit;        /* send(prodMbox, credit) */
#endif
progress:  skip                      /* consume item */
	od
}
