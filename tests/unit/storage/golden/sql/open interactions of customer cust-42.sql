-- query: 'status=open&relatedParty.id=cust-42'

-- page
SELECT doc, version FROM interaction WHERE seq IN (SELECT seq FROM leaf WHERE pid = (SELECT pid FROM path WHERE path = ?) AND ((v = ?))) AND seq IN (SELECT seq FROM leaf WHERE pid = (SELECT pid FROM path WHERE path = ?) AND ((v = ?))) ORDER BY created ASC NULLS LAST, id LIMIT ? OFFSET ?

-- page params
1. 'status'
2. 'open'
3. 'relatedParty.id'
4. 'cust-42'
5. -1
6. 0

-- count
SELECT count(*) FROM interaction WHERE seq IN (SELECT seq FROM leaf WHERE pid = (SELECT pid FROM path WHERE path = ?) AND ((v = ?))) AND seq IN (SELECT seq FROM leaf WHERE pid = (SELECT pid FROM path WHERE path = ?) AND ((v = ?)))

-- count params
1. 'status'
2. 'open'
3. 'relatedParty.id'
4. 'cust-42'
