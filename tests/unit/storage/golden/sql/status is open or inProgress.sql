-- query: 'status=open,inProgress'

-- page
SELECT doc, version FROM interaction WHERE seq IN (SELECT seq FROM leaf WHERE pid = (SELECT pid FROM path WHERE path = ?) AND ((v = ?) OR (v = ?))) ORDER BY created ASC NULLS LAST, id LIMIT ? OFFSET ?

-- page params
1. 'status'
2. 'open'
3. 'inProgress'
4. -1
5. 0

-- count
SELECT count(*) FROM interaction WHERE seq IN (SELECT seq FROM leaf WHERE pid = (SELECT pid FROM path WHERE path = ?) AND ((v = ?) OR (v = ?)))

-- count params
1. 'status'
2. 'open'
3. 'inProgress'
